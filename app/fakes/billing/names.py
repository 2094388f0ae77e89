"""Word lists for generated customer names and addresses (Dhaka-area utility customers)."""

FIRST = ("Karim", "Rahim", "Fatema", "Ayesha", "Nusrat", "Tanvir", "Sabbir", "Farhana", "Mahmud", "Shirin",
         "Imran", "Sadia", "Rafiq", "Nasrin", "Jahid", "Taslima", "Arif", "Rumana", "Habib", "Shamima",
         "Kamal", "Salma", "Monir", "Rokeya", "Anwar", "Laila", "Belal", "Parvin", "Zahid", "Munni")
LAST = ("Rahman", "Hossain", "Islam", "Ahmed", "Chowdhury", "Khan", "Uddin", "Akter", "Begum", "Sarkar",
        "Talukder", "Mia", "Sheikh", "Bhuiyan", "Haque", "Alam", "Kabir", "Siddique", "Mollah", "Das",
        "Roy", "Saha", "Paul", "Karim", "Mahmud", "Howlader", "Patwary", "Mondal", "O'Neil", "Miah")
CITIES = ("Dhaka", "Dhaka", "Dhaka", "Narayanganj", "Gazipur", "Savar", "Tongi", "Keraniganj")
ROADS = ("Road 7, Dhanmondi", "Road 27, Gulshan", "Mirpur Road", "Lake Circus, Kalabagan", "Green Road",
         "New Eskaton Road", "Road 11, Banani", "Sector 4, Uttara", "Shantinagar", "Malibagh Chowdhurypara",
         "Elephant Road", "Satmasjid Road", "Begum Rokeya Sarani", "Shyamoli Ring Road", "Old Airport Road")
